/**
 * A loopback identity provider of Cognito's shape, for the cloud sign-in path: the hosted
 * authorize endpoint (it signs the user in at once and returns a code), the token endpoint
 * (it checks the PKCE verifier against the challenge and issues an RS256 ID token with the
 * pool's claims), and the JWKS the API verifies those tokens with.
 */
import { createHash, generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Provider {
  url: string;
  clientId: string;
  close: () => Promise<void>;
  /** Codes traded so far. */
  exchanges: number;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A provider whose user is an admin of `tenant` (`cognito:groups: [admin]`). */
export async function startProvider(tenant: string, email: string): Promise<Provider> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const clientId = 'dashboard-e2e';
  const codes = new Map<string, { challenge: string; redirect: string }>();
  const provider: Provider = { url: '', clientId, exchanges: 0, close: async () => {} };

  const idToken = () => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', kid: 'e2e', typ: 'JWT' }));
    const claims = b64url(
      JSON.stringify({
        iss: provider.url,
        aud: clientId,
        sub: 'e2e-user',
        email,
        token_use: 'id',
        'custom:tenant': tenant,
        'cognito:groups': ['admin'],
        iat: now,
        exp: now + 3600,
      }),
    );
    const signature = sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), privateKey);
    return `${header}.${claims}.${b64url(signature)}`;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', provider.url);
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (url.pathname === '/.well-known/jwks.json') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...jwk, kid: 'e2e', alg: 'RS256', use: 'sig' }] }));
      return;
    }
    if (url.pathname === '/oauth2/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        res.statusCode = 400;
        res.end('bad authorize request');
        return;
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge')!, redirect: q.get('redirect_uri')! });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.statusCode = 302;
      res.setHeader('Location', back.toString());
      res.end();
      return;
    }
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const pending = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const challenge = createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url');
        res.setHeader('Content-Type', 'application/json');
        if (!pending || pending.challenge !== challenge || pending.redirect !== form.get('redirect_uri')) {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'invalid_grant' }));
          return;
        }
        provider.exchanges += 1;
        res.end(JSON.stringify({ id_token: idToken(), access_token: 'unused', token_type: 'Bearer', expires_in: 3600 }));
      });
      return;
    }
    if (url.pathname === '/logout') {
      res.statusCode = 302;
      res.setHeader('Location', url.searchParams.get('logout_uri') ?? '/');
      res.end();
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.close = () => new Promise((resolve) => server.close(() => resolve()));
  return provider;
}
