import { describe, expect, it } from 'vitest';
import { OutputCap } from '../../src/sandbox/output-cap.js';

describe('OutputCap', () => {
  it('keeps everything under the cap', () => {
    const cap = new OutputCap(100);
    cap.push(Buffer.from('hello '));
    cap.push(Buffer.from('world'));
    expect(cap.toString()).toBe('hello world');
    expect(cap.droppedBytes).toBe(0);
  });
  it('keeps head and tail and counts the cut middle', () => {
    const cap = new OutputCap(10);
    for (let i = 0; i < 100; i++) cap.push(Buffer.from(String(i % 10)));
    expect(cap.droppedBytes).toBe(90);
    const text = cap.toString();
    expect(text.startsWith('01234')).toBe(true);
    expect(text.endsWith('56789')).toBe(true);
    expect(text).toContain('90 bytes of output cut');
  });
});
