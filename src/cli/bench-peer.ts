/**
 * The PyTorch peer process (bench/peer.py): installs Debian's python3-torch
 * when it is missing, starts the peer and sends it one JSON command per line.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

/** Debian's interpreter, whose dist-packages hold python3-torch. */
export const PEER_PYTHON = '/usr/bin/python3';

export const PEER_SCRIPT = 'bench/peer.py';

/** Debian packages of the peer: PyTorch, and OpenBLAS so that torch's BLAS calls do not go to the reference BLAS. */
export const PEER_PACKAGES = ['python3-torch', 'libopenblas0-pthread'];

function hasTorch(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch, functorch'], { stdio: 'ignore' }).status === 0;
}

function hasPackage(name: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

function aptInstall(): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', ...PEER_PACKAGES], { stdio: 'inherit', env }).status === 0;
  if (install()) return true;
  // A fresh machine has no package lists yet.
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  return install();
}

/**
 * Makes sure `python` imports torch and functorch and that OpenBLAS is
 * installed. As root it runs apt-get; otherwise it throws with the command
 * to run.
 */
export function ensurePeerPackages(python: string = PEER_PYTHON): void {
  const missing = PEER_PACKAGES.filter((name) => !hasPackage(name));
  if (missing.length === 0 && hasTorch(python)) return;

  const command = `sudo apt-get install -y ${PEER_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`the PyTorch peer needs ${missing.join(' and ') || 'torch'} for ${python}; install with: ${command}`);
  }
  process.stderr.write(`bench: installing ${PEER_PACKAGES.join(', ')} with apt-get\n`);
  if (!aptInstall() || !hasTorch(python)) {
    throw new Error(`apt-get could not install the PyTorch peer's packages; run: ${command}`);
  }
}

export interface PeerVersions {
  python: string;
  torch: string;
  threads: number;
  blas: string;
}

type PeerReply = { ok: true } & Record<string, unknown>;

/** A running bench/peer.py that answers one command at a time. */
export class PeerProcess {
  private readonly pending: ((line: string) => void)[] = [];
  private readonly lines: Interface;
  private stderr = '';
  private exited: string | null = null;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.pending.shift()?.(line));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      this.exited = `the peer exited with ${signal ?? `code ${code}`}`;
      for (const resolve of this.pending.splice(0)) resolve('');
    });
  }

  static start(python: string = PEER_PYTHON, script: string = PEER_SCRIPT): PeerProcess {
    // One OpenMP and BLAS pool of the size torch.set_num_threads sets.
    const env = { ...process.env, OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' };
    return new PeerProcess(spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'], env }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends one command and returns its reply; throws with the peer's error and its stderr tail. */
  async request(command: Record<string, unknown>): Promise<PeerReply> {
    if (this.exited !== null) throw new Error(`${this.exited}; stderr: ${this.stderr}`);
    const line = await new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
    if (line === '') throw new Error(`${this.exited ?? 'the peer closed its output'}; stderr: ${this.stderr}`);
    const reply = JSON.parse(line) as { ok: boolean; error?: string; trace?: string } & Record<string, unknown>;
    if (!reply.ok) {
      throw new Error(`peer command ${String(command['cmd'])} failed: ${reply.error ?? 'no message'}\n${reply.trace ?? ''}`);
    }
    return reply as PeerReply;
  }

  /** Times `count` runs of one workload in the peer and returns each run's milliseconds. */
  async time(what: PeerWorkload, count = 1): Promise<number[]> {
    const reply = await this.request({ cmd: 'time', what, count });
    return reply['ms'] as number[];
  }

  /** Asks the peer to quit and waits for it, killing it by PID after 5 s. */
  async close(): Promise<void> {
    if (this.exited !== null) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
    this.lines.close();
  }
}

export type PeerWorkload = 'step' | 'linearStep' | 'ntk' | 'eigen' | 'spectrum';
