// A real OpenID provider for Firmguard's single sign-on tests: panva's
// oidc-provider (OpenID Certified) with a login page of its own, accounts with
// verified and unverified emails and `amr` values, and a few test controls.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": N, "clients": [{client_id, client_secret, redirect_uris,
// wrong_audience?}], "accounts": [{login, password, email, email_verified,
// name, amr}]}. It prints "ready ISSUER" once it listens on 127.0.0.1:port.
//
// Test controls under /__harness/ (loopback, tests only):
//   POST /__harness/clock?offset=SECONDS   the token endpoint's clock runs SECONDS ahead (or
//                                          behind): its ID tokens are issued as if then, while
//                                          the login pages keep real time (and their cookies)
//   POST /__harness/rotate-keys            sign with a new key (the old one stays published)
//   GET  /__harness/stats                  how often discovery, JWKS and token were asked for
//
// A client with "wrong_audience" gets ID tokens whose `aud` names that other
// client while `azp` still names it: what a misconfigured or hostile provider
// would send, which a relying party must refuse.

import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://localhost:${config.port}`;
const accounts = new Map(config.accounts.map((account) => [account.login, account]));
const wrongAudience = new Map(
  config.clients.filter((c) => c.wrong_audience).map((c) => [c.client_id, c.wrong_audience]),
);

// The token endpoint's clock: oidc-provider reads Date.now() for iat, exp and every TTL.
let clockOffsetMs = 0;
const tokenRequest = new AsyncLocalStorage();
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + (tokenRequest.getStore() ? clockOffsetMs : 0);

const stats = { discovery: 0, jwks: 0, token: 0 };

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

let signingKeys = [newSigningKey()];

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function loginPage(uid, clientId, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test Identity Provider</title><link rel="icon" href="data:,"></head><body>
<main><h1>Test Identity Provider</h1>
<p>Sign in to continue to ${escapeHtml(clientId)}.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<p><button type="submit">Continue</button></p>
</form></main></body></html>`;
}

function build() {
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: signingKeys },
    cookies: { keys: ['firmguard-test-provider-cookie-key'] },
    // amr in the ID token (from the login below); email and name in it too
    // (conformIdTokenClaims off), as Entra ID, Okta and Google put them there.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party clients: no consent screen, the grant covers what was asked.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grant = new oidc.provider.Grant({
        clientId: oidc.client.clientId,
        accountId: oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      grant.addOIDCClaims(['email', 'email_verified', 'name']);
      await grant.save();
      return grant;
    },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: account.email,
            email_verified: account.email_verified,
            name: account.name,
          };
        },
      };
    },
    ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Provider error</title><h1>${escapeHtml(out.error)}</h1><p>${escapeHtml(out.error_description || '')}</p>`;
    },
  });

  const { IdToken } = provider;
  const issue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function issueWithAudience(options) {
    const audience = options && options.use === 'idtoken' && wrongAudience.get(this.client.clientId);
    if (!audience) return issue.call(this, options);
    const client = this.client;
    this.set('azp', client.clientId);
    this.client = Object.create(client, { clientId: { value: audience } });
    try {
      return await issue.call(this, options);
    } finally {
      this.client = client;
    }
  };
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  return { provider, handler: provider.callback() };
}

let current = build();

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, isLogin) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('unexpected interaction');
    return;
  }
  if (!isLogin) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(loginPage(uid, details.params.client_id));
    return;
  }
  const form = await readForm(req);
  const account = accounts.get(form.get('username'));
  if (!account || account.password !== form.get('password')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(loginPage(uid, details.params.client_id, 'Wrong username or password.'));
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.login, amr: account.amr, remember: false } },
    { mergeWithLastSubmission: false },
  );
}

async function harness(req, res, url) {
  const reply = (body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === '/__harness/stats') return reply(stats);
  if (req.method !== 'POST') return reply({ error: 'POST' });
  if (url.pathname === '/__harness/clock') {
    clockOffsetMs = Number(url.searchParams.get('offset') || 0) * 1000;
    return reply({ offset: clockOffsetMs / 1000 });
  }
  if (url.pathname === '/__harness/rotate-keys') {
    signingKeys = [newSigningKey(), ...signingKeys];
    current = build();
    return reply({ kid: signingKeys[0].kid });
  }
  res.writeHead(404);
  res.end();
}

const server = createServer((req, res) => {
  const url = new URL(req.url, issuer);
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  const handle = async () => {
    if (url.pathname.startsWith('/__harness/')) return harness(req, res, url);
    if (url.pathname === '/.well-known/openid-configuration') stats.discovery += 1;
    if (url.pathname === '/jwks') stats.jwks += 1;
    if (match) return interaction(req, res, match[1], Boolean(match[2]) && req.method === 'POST');
    if (url.pathname === '/token') {
      stats.token += 1;
      return tokenRequest.run(true, () => current.handler(req, res));
    }
    return current.handler(req, res);
  };
  handle().catch((error) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error && error.message));
  });
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
