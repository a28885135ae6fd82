// A private MariaDB server for tests: a fresh data directory made by
// mariadb-install-db in a temporary directory, mariadbd listening on a free
// TCP port of 127.0.0.1 and a Unix socket inside that directory, run as a
// child process of the test and removed with its files by stop().

import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freeUdpTcpPort } from './ports';
import { ManagedProcess } from './process';
import { findOnPath } from '../../iptables-extension/backend';

const BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

function findBin(name: string): string | null {
  return findOnPath(name, BIN_DIRS.join(':'));
}

/** Why a MariaDB server cannot be started here, or null when it can. */
export function mariadbMissing(): string | null {
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb'].filter((b) => findBin(b) === null);
  return missing.length ? `${missing.join(', ')} not installed (apt-get install mariadb-server)` : null;
}

/** Runs a program with `input` on stdin; rejects with its output when it fails. */
function run(bin: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(bin)} exited with ${code}: ${out.slice(-2000)}`))));
    child.stdin.end(input);
  });
}

export class MariaDb {
  private server: ManagedProcess | null = null;

  private constructor(readonly dir: string, readonly port: number) {}

  get socket(): string {
    return path.join(this.dir, 'mysqld.sock');
  }

  /** Creates the data directory and starts the server; its root user has no password. */
  static async start(): Promise<MariaDb> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-mariadb-'));
    const db = new MariaDb(dir, await freeUdpTcpPort());
    try {
      await run(findBin('mariadb-install-db')!, [
        '--no-defaults', `--datadir=${path.join(dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db',
        ...db.asUser(),
      ]);
      await db.startServer();
      return db;
    } catch (err) {
      await db.stop();
      throw err;
    }
  }

  /** mariadbd refuses to run as root unless told to. */
  private asUser(): string[] {
    return process.getuid?.() === 0 ? ['--user=root'] : [];
  }

  /** Starts mariadbd on the existing data directory and waits until it accepts connections. */
  async startServer(): Promise<void> {
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    const server = new ManagedProcess(findBin('mariadbd')!, [
      '--no-defaults', `--datadir=${path.join(this.dir, 'data')}`, `--socket=${this.socket}`, `--port=${this.port}`,
      '--bind-address=127.0.0.1', `--pid-file=${path.join(this.dir, 'mysqld.pid')}`, '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M', '--max-allowed-packet=16M', ...this.asUser(),
    ], { onLine: (l) => l.includes('ready for connections') && ready() });
    this.server = server;
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('mariadbd did not start within 30 s')), 30000).unref());
    const exited = server.exited.then(({ code, signal }) => {
      throw new Error(`mariadbd exited (${code ?? signal}): ${server.output.tail(20).join('\n')}`);
    });
    await Promise.race([isReady, timeout, exited]);
  }

  /** Stops the server and keeps its data (startServer() brings it back). */
  async stopServer(): Promise<void> {
    await this.server?.stop(10000);
    this.server = null;
  }

  /** Runs SQL statements as root over the Unix socket. */
  sql(statements: string): Promise<string> {
    return run(findBin('mariadb')!, ['--no-defaults', `--socket=${this.socket}`, '-uroot', '--batch'], statements);
  }

  /** Stops the server and removes every file it had. Idempotent. */
  async stop(): Promise<void> {
    await this.stopServer();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
