// Greets someone by name.
export function greet(name) {
  return `Helo, ${name}!`;
}
