// A real OpenID Provider (oidc-provider) on 127.0.0.1, for tower-bearer's interop suite.
//
//   node provider.mjs serve --keys FILE [--port N] [--short-ttl SECS]
//       Starts the provider. If FILE does not exist, it is created with one RSA, one P-256 and
//       one Ed25519 signing key. Prints "ready ISSUER" once it accepts connections.
//   node provider.mjs add-key FILE rsa|ec|ed      Prepends a new key (it signs from then on);
//                                                prints its kid.
//   node provider.mjs remove-key FILE KID        Removes a key.
//
// Clients: "caller" (client_credentials, client_secret_basic) asks for tokens;
// "resource-server" (client_secret_basic) only introspects. Resources (RFC 8707), each with the
// scopes "read write admin":
//   https://rs256.api.test, https://es256.api.test, https://eddsa.api.test  JWT access tokens
//   https://opaque.api.test                                                opaque tokens
//   https://short.api.test                                                 JWT (RS256), --short-ttl
// GET /test/stats answers {"jwks": N, "introspection": N}: the requests served since start.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import Provider from 'oidc-provider';

export const CLIENTS = {
  caller: { id: 'caller', secret: 'caller-secret' },
  resourceServer: { id: 'resource-server', secret: 'rs-secret' },
};

function generate(kind) {
  const kid = `${kind}-${crypto.randomBytes(4).toString('hex')}`;
  let pair;
  let alg;
  if (kind === 'rsa') {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    alg = 'RS256';
  } else if (kind === 'ec') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    alg = 'ES256';
  } else if (kind === 'ed') {
    pair = crypto.generateKeyPairSync('ed25519');
    alg = 'EdDSA';
  } else {
    throw new Error(`unknown key kind ${kind}`);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg };
}

function readKeys(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function writeKeys(file, keys) {
  fs.writeFileSync(file, JSON.stringify(keys, null, 2));
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

async function serve(args) {
  const file = option(args, '--keys');
  if (!file) throw new Error('--keys FILE is required');
  if (!fs.existsSync(file)) writeKeys(file, { keys: ['rsa', 'ec', 'ed'].map(generate) });
  const port = Number(option(args, '--port', '0'));
  const shortTtl = Number(option(args, '--short-ttl', '2'));

  const resources = {
    'https://rs256.api.test': { format: 'jwt', alg: 'RS256' },
    'https://es256.api.test': { format: 'jwt', alg: 'ES256' },
    'https://eddsa.api.test': { format: 'jwt', alg: 'EdDSA' },
    'https://opaque.api.test': { format: 'opaque' },
    'https://short.api.test': { format: 'jwt', alg: 'RS256', ttl: shortTtl },
  };

  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENTS.caller.id,
        client_secret: CLIENTS.caller.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'read write admin',
      },
      {
        client_id: CLIENTS.resourceServer.id,
        client_secret: CLIENTS.resourceServer.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: readKeys(file),
    scopes: ['openid', 'read', 'write', 'admin'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          const resource = resources[indicator];
          if (!resource) throw new Provider.errors.InvalidTarget();
          const info = {
            scope: 'read write admin',
            audience: indicator,
            accessTokenTTL: resource.ttl ?? 300,
            accessTokenFormat: resource.format,
          };
          if (resource.format === 'jwt') info.jwt = { sign: { alg: resource.alg } };
          return info;
        },
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  // Counts what the suite needs to see from outside; GET /test/stats answers the counts.
  const stats = { jwks: 0, introspection: 0 };
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/test/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(stats));
      return;
    }
    if (path === '/jwks') stats.jwks += 1;
    if (path === '/token/introspection') stats.introspection += 1;
    handle(req, res);
  });
  console.log(`ready ${issuer}`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'serve') {
  await serve(args);
} else if (command === 'add-key') {
  const [file, kind] = args;
  const set = readKeys(file);
  const key = generate(kind);
  set.keys.unshift(key);
  writeKeys(file, set);
  console.log(key.kid);
} else if (command === 'remove-key') {
  const [file, kid] = args;
  const set = readKeys(file);
  set.keys = set.keys.filter((k) => k.kid !== kid);
  writeKeys(file, set);
} else {
  console.error('usage: provider.mjs serve --keys FILE [--port N] [--short-ttl SECS] | add-key FILE rsa|ec|ed | remove-key FILE KID');
  process.exit(2);
}
