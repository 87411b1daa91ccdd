/**
 * The benchmark's side of bench/fixtures/sim-worker.mjs: a TCP server on loopback that the worker
 * processes (senders, receivers) dial; commands go out as JSON lines and each answer comes back with
 * the command's id.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface, type Interface } from 'node:readline';

export interface ReceiverReport {
  count: number;
  firstAt: number;
  lastAt: number;
  latencies?: number[];
}

export interface SendReport {
  sent: number;
  startAt: number;
  endAt: number;
}

export class Worker {
  readonly role: string;
  readonly pid: number;
  readonly #socket: Socket;
  readonly #waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor(role: string, pid: number, socket: Socket, lines: Interface) {
    this.role = role;
    this.pid = pid;
    this.#socket = socket;
    lines.on('line', (line: string) => {
      const doc = JSON.parse(line) as Record<string, unknown>;
      const w = this.#waiting.get(doc['id'] as number);
      if (!w) return;
      this.#waiting.delete(doc['id'] as number);
      if (typeof doc['error'] === 'string') w.reject(new Error(`${role}: ${doc['error']}`));
      else w.resolve(doc);
    });
    socket.on('close', () => {
      for (const w of this.#waiting.values()) w.reject(new Error(`${role} went away`));
      this.#waiting.clear();
    });
  }

  command<T = Record<string, unknown>>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: Record<string, unknown>) => void, reject });
      this.#socket.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

export class ControlServer {
  readonly #server: Server;
  readonly #workers = new Map<string, Worker>();
  readonly #arrivals: Array<() => void> = [];

  private constructor(server: Server) {
    this.#server = server;
    server.on('connection', (socket) => {
      socket.setNoDelay(true);
      const lines = createInterface({ input: socket });
      lines.once('line', (first) => {
        const hello = JSON.parse(first) as { hello: string; pid: number };
        const worker = new Worker(hello.hello, hello.pid, socket, lines);
        this.#workers.set(hello.hello, worker);
        socket.on('close', () => {
          if (this.#workers.get(hello.hello) === worker) this.#workers.delete(hello.hello);
        });
        for (const f of this.#arrivals.splice(0)) f();
      });
    });
  }

  static async listen(): Promise<ControlServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new ControlServer(server);
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** The worker with this role, once it has dialled in. */
  async worker(role: string, timeoutMs = 30_000, alive: () => void = () => undefined): Promise<Worker> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const w = this.#workers.get(role);
      if (w) return w;
      alive();
      if (Date.now() > end) throw new Error(`the ${role} worker did not dial in within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#arrivals.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async close(): Promise<void> {
    for (const w of this.#workers.values()) w.close();
    this.#workers.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
