/**
 * A channel's far end on loopback: records every JSON body POSTed to it by path, and answers
 * `GET /posts?path=P` with those posted to P — what the end-to-end tests read back.
 */
import { createServer, type Server } from 'node:http';

export interface Catcher {
  url: string;
  close: () => Promise<void>;
}

export async function startCatcher(): Promise<Catcher> {
  const posts: { path: string; body: unknown }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://catcher');
    if (req.method === 'GET' && url.pathname === '/posts') {
      const path = url.searchParams.get('path');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(posts.filter((p) => p.path === path).map((p) => p.body)));
      return;
    }
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      try {
        posts.push({ path: url.pathname, body: JSON.parse(text) });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The bodies posted to `path` on the catcher at `url`. */
export async function postsTo(url: string, path: string): Promise<unknown[]> {
  const response = await fetch(`${url}/posts?path=${encodeURIComponent(path)}`);
  return (await response.json()) as unknown[];
}
