// Fail when labextension/src/common/api-types.ts is stale: run the `gen:api` script from package.json
// with its output sent to a temporary file, and compare.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'labextension', 'src', 'common', 'api-types.ts');
const genApi = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['gen:api'];
const [command, ...args] = genApi.split(/\s+/);
const out = args.indexOf('-o');
if (out === -1) {
  console.error('The gen:api script has no `-o <file>`; cannot redirect it.');
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'mlp-api-types-'));
const fresh = join(scratch, 'api-types.ts');
try {
  args[out + 1] = fresh;
  execFileSync(join(root, 'node_modules', '.bin', command), args, { cwd: root, stdio: 'pipe' });
  const want = readFileSync(fresh, 'utf8');
  let have = '';
  try {
    have = readFileSync(committed, 'utf8');
  } catch {
    // A missing file is as stale as a different one.
  }
  if (want !== have) {
    const wantLines = want.split('\n');
    const haveLines = have.split('\n');
    const line = wantLines.findIndex((text, i) => text !== haveLines[i]);
    console.error(
      `labextension/src/common/api-types.ts is stale (first difference at line ${line + 1}).\n` +
        'Run `jlpm gen:api` and commit the result.'
    );
    process.exit(1);
  }
  console.log('labextension/src/common/api-types.ts matches labextension/openapi.json.');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
