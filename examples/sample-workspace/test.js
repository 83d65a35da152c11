// Minimal test runner: prints ok/not ok lines and exits 1 on failure.
import { greet } from './src/greet.js';

const cases = [['greet says Hello', () => greet('Ada') === 'Hello, Ada!']];
let failed = 0;
cases.forEach(([name, check], i) => {
  const ok = check();
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok' : 'not ok'} ${i + 1} - ${name}`);
});
if (failed > 0) {
  console.log(`FAIL: ${failed} of ${cases.length} failing (got "${greet('Ada')}")`);
  process.exit(1);
}
console.log(`PASS: ${cases.length} passing`);
