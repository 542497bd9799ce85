import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { renderHtml } from '../../src/bench/report-html.js';
import { sampleReport } from './sample-report.js';

// Renders the sample report in headless Chromium (Debian package `chromium`) and checks the screenshot is a real
// page: a PNG of the window size whose pixels are not all white and include the profiles' bar colours. Skipped,
// with the reason printed, where no Chromium exists. Set MAILMIGRATE_SCREENSHOT_DIR to keep the PNG for a look.

const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const WIDTH = 1200;
const HEIGHT = 900;

interface Png {
  width: number;
  height: number;
  /** RGB triples, row-major. */
  rgb: Uint8Array;
}

/** A minimal PNG decoder for what Chromium writes: 8-bit RGB or RGBA, non-interlaced (PNG spec §11.2.2, §9). */
function decodePng(buf: Buffer): Png {
  assert.ok(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      colorType = data[9]!;
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  assert.ok(colorType === 2 || colorType === 6, `colour type ${colorType} is RGB or RGBA`);
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const cur = new Uint8Array(stride);
  let prev = new Uint8Array(stride);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const off = y * (stride + 1);
    const filter = raw[off]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[off + 1 + x]!;
      const a = x >= bpp ? cur[x - bpp]! : 0;
      const b = prev[x]!;
      const c = x >= bpp ? prev[x - bpp]! : 0;
      let p: number;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: {
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`bad PNG filter ${filter}`);
      }
      cur[x] = (v + p) & 0xff;
    }
    for (let x = 0; x < width; x++) rgb.set(cur.subarray(x * bpp, x * bpp + 3), (y * width + x) * 3);
    prev = Uint8Array.from(cur);
  }
  return { width, height, rgb };
}

function runChromium(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a hung browser and its helpers are stopped together by our own pid.
    const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const hex = (s: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)) as [number, number, number];

test('the HTML report renders in headless Chromium as a non-blank page with the charts drawn', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    const reason = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_BIN)`;
    console.log(`# skipping screenshot test: ${reason}`);
    t.skip(reason);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'mm-shot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const page = join(dir, 'report.html');
  const shot = join(dir, 'report.png');
  await writeFile(page, renderHtml(sampleReport()));
  const { code, stderr } = await runChromium(
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${join(dir, 'profile')}`,
      `--screenshot=${shot}`,
      `--window-size=${WIDTH},${HEIGHT}`,
      pathToFileURL(page).href,
    ],
    60_000,
  );
  assert.ok(existsSync(shot), `no screenshot written (exit ${code}): ${stderr.slice(-500)}`);
  const png = await readFile(shot);
  if (process.env['MAILMIGRATE_SCREENSHOT_DIR']) await copyFile(shot, join(process.env['MAILMIGRATE_SCREENSHOT_DIR'], 'bench-report.png'));

  const img = decodePng(png);
  assert.ok(img.width >= WIDTH * 0.9 && img.width <= WIDTH * 2.1, `width ${img.width}`);
  assert.ok(img.height >= HEIGHT * 0.9 && img.height <= HEIGHT * 2.1, `height ${img.height}`);

  let nonWhite = 0;
  const colours = new Set<number>();
  for (let p = 0; p < img.rgb.length; p += 3) {
    const [r, g, b] = [img.rgb[p]!, img.rgb[p + 1]!, img.rgb[p + 2]!];
    if (r < 245 || g < 245 || b < 245) nonWhite++;
    colours.add((r << 16) | (g << 8) | b);
  }
  const pixels = img.width * img.height;
  assert.ok(nonWhite / pixels > 0.02, `only ${((100 * nonWhite) / pixels).toFixed(2)}% of pixels are not white: blank page?`);
  assert.ok(nonWhite / pixels < 0.9, 'almost no white: not the report page');
  assert.ok(colours.size > 20, `${colours.size} distinct colours`);

  // The throughput bars of the 2nd and 3rd profile are wide solid rectangles in the first screen: their exact
  // palette colours must be there in quantity (a page whose SVG failed to render would have none).
  for (const c of ['#dc2626', '#059669']) {
    const [r, g, b] = hex(c);
    let n = 0;
    for (let p = 0; p < img.rgb.length; p += 3) if (img.rgb[p] === r && img.rgb[p + 1] === g && img.rgb[p + 2] === b) n++;
    assert.ok(n > 1000, `${c}: ${n} pixels`);
  }
});
