// The conversation a session's loop starts from: the prompt alone, or a resumed / continued
// history (with the prompt appended only when the history ends with the assistant's turn).
import type Anthropic from '@anthropic-ai/sdk';

/**
 * @example initialMessages('fix it', undefined) // [{ role: 'user', content: 'fix it' }]
 */
export function initialMessages(
  prompt: string,
  history: readonly Anthropic.MessageParam[] | undefined,
): Anthropic.MessageParam[] {
  if (history === undefined || history.length === 0) return [{ role: 'user', content: prompt }];
  const messages = [...history];
  if (messages.at(-1)?.role === 'assistant') messages.push({ role: 'user', content: prompt });
  return messages;
}
