import { defineConfig } from '@playwright/test';

// Debian's Chromium; Playwright's own browser download is not reachable here.
const CHROMIUM = '/usr/bin/chromium';

export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 120_000,
  // One retry: a test that passes only on its retry is listed as flaky in the report, not hidden.
  retries: 1,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:5174',
    browserName: 'chromium',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-dev-shm-usage',
        '--enable-unsafe-webgpu',
      ],
    },
  },
  webServer: {
    command: 'LAB_E2E=1 npx vite --host 127.0.0.1 --port 5174 --strictPort --bypass-lock',
    url: 'http://127.0.0.1:5174',
    reuseExistingServer: false,
    timeout: 120_000,
  },
});
