/** The machine and software versions that a benchmark record names. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

import * as tf from '@tensorflow/tfjs';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** The git commit the bench ran on, with "+changes" when the tree had uncommitted changes. */
  commit: string;
}

export interface Versions {
  node: string;
  tfjs: string;
  tfjsBackendWasm: string;
  tfjsBackendWebgpu: string;
  playwright: string;
}

function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string };
  return manifest.version;
}

function gitCommit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return `${head.stdout.trim()}${status.stdout.trim() === '' ? '' : '+changes'}`;
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release);
    if (pretty?.[1] !== undefined) return `${pretty[1]}, Linux ${os.release()}`;
  } catch {
    // Not Linux, or no os-release: fall through to the kernel name.
  }
  return `${os.type()} ${os.release()}`;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    commit: gitCommit(),
  };
}

export function versions(): Versions {
  return {
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    tfjsBackendWasm: packageVersion('@tensorflow/tfjs-backend-wasm'),
    tfjsBackendWebgpu: packageVersion('@tensorflow/tfjs-backend-webgpu'),
    playwright: packageVersion('@playwright/test'),
  };
}

/** The 1-, 5- and 15-minute load averages, rounded to 2 decimals. */
export function loadAverage(): [number, number, number] {
  const [one, five, fifteen] = os.loadavg().map((value) => Math.round(value * 100) / 100) as [number, number, number];
  return [one, five, fifteen];
}
