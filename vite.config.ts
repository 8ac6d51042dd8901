import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

/**
 * The service worker that makes the built lab work offline after the first
 * load: Workbox precaches the app shell, the JS, CSS and wasm assets, the
 * checkpoint and the task data. `vite dev` runs without it.
 */
const offline = VitePWA({
  registerType: 'autoUpdate',
  injectRegister: 'script',
  manifest: false,
  workbox: {
    globPatterns: ['**/*.{html,js,css,wasm,woff2,svg}', 'models/brown-gpt/*', 'data/task-sources.json'],
    // The worker bundle (tfjs with its backends) is about 2.5 MB, above Workbox's 2 MiB default.
    maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
    navigateFallback: 'index.html',
    clientsClaim: true,
    skipWaiting: true,
    cleanupOutdatedCaches: true,
  },
});

export default defineConfig({
  plugins: [react(), offline],
  // End-to-end tests set LAB_E2E=1: without hot reload, an edited file never
  // reloads a page in the middle of a test.
  server: { host: '127.0.0.1', port: 5173, strictPort: true, hmr: process.env.LAB_E2E === '1' ? false : undefined },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  worker: { format: 'es' },
  // Pre-bundle every dependency at server start. Discovering one on first
  // load makes Vite re-optimize and respond with 504 "Outdated Optimize Dep",
  // which reloads the page in the middle of a test.
  optimizeDeps: {
    include: [
      'react',
      'react-dom/client',
      'react/jsx-runtime',
      'react/jsx-dev-runtime',
      'zustand',
      'zustand/vanilla',
      'd3',
      'comlink',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'ml-matrix',
      'simple-statistics',
    ],
  },
});
