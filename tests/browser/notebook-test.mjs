// A student's path through a live notebook, in a real browser: opens a
// notebook served by Jupyter Notebook 6 (scripts/browser-test.sh starts the
// server on a tiny synthetic cohort) in Debian's headless Chromium through
// puppeteer-core, types a change into the settings() cell, runs every cell
// with the page's own "Cell > Run All" menu, and checks in the page that
//   - no cell shows an error output or a Go panic,
//   - the live progress display changed while training ran (at least two
//     different contents seen while the training cell was running),
//   - the figure appeared (an embedded PNG named figure2.png),
//   - the run folder named after the changed settings exists, and the one
//     of the unchanged settings does not.
// It saves screenshots (during training and at the end) and a report into
// the output folder.
//
// Environment: NB_URL (server base URL), NB_TOKEN, NB_PATH (notebook path
// on the server), OUT (output folder), RUNS (OPACITY_RUNS of the server),
// EPOCHS (the value typed into the settings cell), DEFAULT_EPOCHS (the
// preset's), CHROMIUM (browser binary), TIMEOUT_S (whole run).
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const env = (k, d) => process.env[k] ?? d;
const base = env('NB_URL'), token = env('NB_TOKEN'), nbPath = env('NB_PATH');
const out = env('OUT'), runs = env('RUNS');
const epochs = Number(env('EPOCHS', '3')), defaultEpochs = Number(env('DEFAULT_EPOCHS', '2'));
const timeoutMs = 1000 * Number(env('TIMEOUT_S', '900'));
const started = Date.now();
const report = { notebook: nbPath, epochs, checks: {}, progress_seen: [], console: [], times_s: {} };
const log = (...a) => console.log(`browser-test [${((Date.now() - started) / 1000).toFixed(1)} s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
const check = (name, ok, detail) => {
  report.checks[name] = { ok, detail };
  log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
  if (!ok) failures.push(name);
};
const phase = (name, t0) => { report.times_s[name] = +((Date.now() - t0) / 1000).toFixed(1); };

// shot saves the whole notebook as one picture: the page scrolls inside
// its own container, so the window is made as tall as the notebook first.
async function shot(page, file) {
  const h = await page.evaluate(() => {
    const nb = document.getElementById('notebook');
    const header = document.getElementById('header');
    return (nb ? nb.scrollHeight : 1000) + (header ? header.offsetHeight : 0) + 40;
  });
  await page.setViewport({ width: 1280, height: Math.min(Math.max(h, 1000), 16000) });
  await sleep(300); // Jupyter resizes its container on the window's resize
  await page.screenshot({ path: file });
  await page.setViewport({ width: 1280, height: 1000 });
}

async function waitFor(page, what, fn, ms, ...args) {
  const t0 = Date.now();
  for (;;) {
    let v;
    try { v = await page.evaluate(fn, ...args); } catch (e) { v = undefined; }
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

const browser = await puppeteer.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  userDataDir: path.join(out, 'chromium-profile'),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  defaultViewport: { width: 1280, height: 1000 },
  protocolTimeout: 120000,
});
let code = 1;
try {
  const page = await browser.newPage();
  page.on('console', (m) => report.console.push(`${m.type()}: ${m.text()}`.slice(0, 500)));
  page.on('pageerror', (e) => report.console.push(`pageerror: ${e.message}`.slice(0, 500)));

  // 1. Open the notebook and wait for its kernel (gonb) to be idle.
  let t0 = Date.now();
  await page.goto(`${base}/notebooks/${nbPath}?token=${token}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
  await waitFor(page, 'the notebook page', () => window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded, 60000);
  const kernel = await waitFor(page, 'the kernel to start and be idle',
    () => Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected() &&
      document.querySelector('#kernel_indicator_icon.kernel_idle_icon') && Jupyter.notebook.kernel.name, 120000);
  check('kernel', kernel === 'gonb', `kernel ${kernel}`);
  // The test's copy is saved only when asked (at the end), never half-way.
  await page.evaluate(() => Jupyter.notebook.set_autosave_interval(0));
  phase('open', t0);

  // 2. Type the change into the settings() cell, as a person does: click
  // into the cell, go to the end of the example line, Enter, type.
  const target = await page.evaluate(() => {
    const cells = Jupyter.notebook.get_cells();
    for (let i = 0; i < cells.length; i++) {
      if (cells[i].cell_type !== 'code') continue;
      const lines = cells[i].get_text().split('\n');
      const fn = lines.findIndex((l) => l.startsWith('func settings()'));
      if (fn < 0) continue;
      const at = lines.findIndex((l, j) => j > fn && l.includes('nb.Settings()'));
      // After the example comment below nb.Settings(), or after that line.
      const example = lines.findIndex((l, j) => j > at && l.trim().startsWith('//'));
      return { cell: i, line: example === at + 1 ? example : at };
    }
    return null;
  });
  if (!target) throw new Error('no code cell with func settings() in the notebook');
  const cellSel = `#notebook-container .cell:nth-child(${target.cell + 1}) .CodeMirror`;
  await page.click(cellSel);
  await page.keyboard.down('Control');
  await page.keyboard.press('Home');
  await page.keyboard.up('Control');
  for (let i = 0; i < target.line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(`s.Epochs = ${epochs} // typed by the browser test`);
  await page.keyboard.press('Escape'); // back to command mode
  const text = await page.evaluate((t) => Jupyter.notebook.get_cell(t.cell).get_text(), target);
  fs.writeFileSync(path.join(out, 'settings-cell.go.txt'), text);
  check('typed', new RegExp(`^\\s*s\\.Epochs = ${epochs} // typed`, 'm').test(text),
    `settings() cell now holds: ${text.split('\n').filter((l) => l.includes('s.Epochs =')).map((l) => l.trim()).join(' | ')}`);

  // 3. Watch the progress display: every different content of an output
  // holding a <progress> bar, with whether the training cell was running.
  await page.evaluate(() => {
    window.__seen = [];
    const trainCell = () => Jupyter.notebook.get_cells().find((c) => c.cell_type === 'code' && c.get_text().includes('nb.Train('));
    const look = () => {
      for (const p of document.querySelectorAll('.output_area progress')) {
        const div = p.closest('.output_subarea') || p.parentElement;
        const content = `${p.value}/${p.max} ${(div.innerText || div.textContent).trim().replace(/\s+/g, ' ')}`.slice(0, 300);
        const last = window.__seen[window.__seen.length - 1];
        if (!last || last.content !== content) {
          const c = trainCell();
          window.__seen.push({ t: Date.now(), content, running: !!c && c.input_prompt_number === '*' });
        }
      }
    };
    new MutationObserver(look).observe(document.getElementById('notebook-container'), { childList: true, subtree: true, characterData: true, attributes: true });
  });

  // 4. Run every cell through the page's menu: Cell > Run All.
  t0 = Date.now();
  await page.click('#celllink');
  await page.waitForSelector('#run_all_cells', { visible: true, timeout: 10000 });
  await page.click('#run_all_cells');
  log('Cell > Run All clicked');
  let shotDuring = false;
  const done = () => {
    const cells = Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code');
    return cells.every((c) => typeof c.input_prompt_number === 'number') && !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon');
  };
  for (;;) {
    if (await page.evaluate(done)) break;
    if (Date.now() - started > timeoutMs) throw new Error(`the cells did not finish within ${timeoutMs / 1000} s`);
    const n = await page.evaluate(() => window.__seen.length);
    if (!shotDuring && n >= 2) {
      await shot(page, path.join(out, 'during-training.png'));
      shotDuring = true;
      log('screenshot during training:', path.join(out, 'during-training.png'));
    }
    await sleep(500);
  }
  phase('run_all', t0);
  log('every cell ran');

  // 5. Checks in the page.
  const outputs = await page.evaluate(() => Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code').map((c) => ({
    prompt: c.input_prompt_number,
    outputs: c.output_area.outputs.map((o) => ({
      type: o.output_type, name: o.name || '', ename: o.ename || '', evalue: o.evalue || '',
      text: (o.text || '') + Object.values(o.data || {}).filter((v) => typeof v === 'string').join(' ').slice(0, 2000),
    })),
  })));
  fs.writeFileSync(path.join(out, 'outputs.json'), JSON.stringify(outputs, null, 1));
  const errors = [];
  outputs.forEach((c, i) => c.outputs.forEach((o) => {
    if (o.type === 'error' || o.text.includes('panic:') || (o.text.includes('goroutine ') && o.text.includes('[running]'))) {
      errors.push(`code cell ${i + 1}: ${o.ename} ${o.evalue} ${o.text}`.slice(0, 400));
    }
  }));
  const domErrors = await page.evaluate(() => document.querySelectorAll('.output_area .output_error').length);
  check('no_errors', errors.length === 0 && domErrors === 0,
    errors.length || domErrors ? `${errors.length} error outputs, ${domErrors} in the page: ${errors.join(' || ')}` : `${outputs.length} code cells, no error output, no panic`);

  const seen = await page.evaluate(() => window.__seen);
  report.progress_seen = seen;
  const whileRunning = [...new Set(seen.filter((s) => s.running).map((s) => s.content))];
  check('progress_live', whileRunning.length >= 2,
    `${whileRunning.length} different progress contents seen while the training cell ran (${seen.length} in all), e.g. "${whileRunning[0] || ''}" then "${whileRunning[whileRunning.length - 1] || ''}"`);

  const fig = await page.evaluate(() => {
    const cells = Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code');
    const last = cells[cells.length - 1].element[0];
    const img = [...last.querySelectorAll('.output_area img')].find((i) => i.src.startsWith('data:image/png') && i.naturalWidth > 0);
    const cap = [...last.querySelectorAll('figcaption')].map((c) => c.textContent).join(' ');
    return img ? { w: img.naturalWidth, h: img.naturalHeight, caption: cap } : null;
  });
  check('figure', !!fig && /figure2\.png/.test(fig.caption), fig ? `${fig.w}×${fig.h} PNG shown, caption ${fig.caption}` : 'no PNG in the last cell');

  const dirs = fs.existsSync(runs) ? fs.readdirSync(runs) : [];
  const changed = dirs.filter((d) => d.includes(`-e${epochs}-seed`) && fs.existsSync(path.join(runs, d, 'run.json')));
  const unchanged = dirs.filter((d) => d.includes(`-e${defaultEpochs}-seed`));
  check('run_folder', changed.length === 1 && unchanged.length === 0,
    `run folders in ${runs}: ${dirs.join(', ') || 'none'} (want one named -e${epochs}-, with run.json, and none -e${defaultEpochs}-)`);

  // 6. Screenshot, and the notebook saved the way the page saves it.
  await shot(page, path.join(out, 'notebook.png'));
  log('screenshot:', path.join(out, 'notebook.png'));
  await page.evaluate(() => Jupyter.notebook.save_notebook());
  await waitFor(page, 'the notebook to be saved', () => !Jupyter.notebook.dirty, 30000);
  code = failures.length ? 1 : 0;
} catch (e) {
  report.error = String(e && e.stack || e);
  log('ERROR', report.error);
  try {
    const pages = await browser.pages();
    if (pages.length) await shot(pages[pages.length - 1], path.join(out, 'notebook.png'));
  } catch { /* the browser is gone */ }
} finally {
  report.failures = failures;
  report.ok = code === 0;
  report.wall_s = +((Date.now() - started) / 1000).toFixed(1);
  fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 1));
  await browser.close();
}
process.exit(code);
