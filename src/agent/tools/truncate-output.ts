// Cuts long tool output to head + tail with a count of what was dropped, before the model sees it.

/** Default cap of text sent to the model per tool result (Claude Code's Bash limit). */
export const MAX_TOOL_OUTPUT_CHARS = 30_000;

/**
 * @example truncateMiddle('a'.repeat(50), 20) // 'aaaaaaaaaa\n… [30 characters truncated] …\naaaaaaaaaa'
 */
export function truncateMiddle(text: string, maxChars = MAX_TOOL_OUTPUT_CHARS): string {
  if (text.length <= maxChars) return text;
  const head = Math.ceil(maxChars / 2);
  const tail = maxChars - head;
  const dropped = text.length - head - tail;
  return `${text.slice(0, head)}\n… [${dropped} characters truncated] …\n${text.slice(text.length - tail)}`;
}
