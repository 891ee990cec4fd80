/**
 * A small keep-alive JSON HTTP client used for every server in the benchmark, so Hearth and the
 * baselines see exactly the same client.
 */
import { Agent, request } from 'node:http';

export interface JsonResponse {
  status: number;
  body: any;
}

export class JsonHttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly url: URL;

  constructor(baseUrl: string) {
    this.url = new URL(baseUrl);
  }

  request(method: string, path: string, body?: unknown, accessToken?: string): Promise<JsonResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.url.hostname, port: this.url.port, path, method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text for the error message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like request() but throws unless the status is 200. */
  async ok(method: string, path: string, body?: unknown, accessToken?: string): Promise<any> {
    const res = await this.request(method, path, body, accessToken);
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  close(): void {
    this.agent.destroy();
  }
}
