// Parsers for option values shared by every command (ports, counts), so a malformed value is a
// usage error named by its flag wherever it is typed.
import { InvalidArgumentError } from "commander";

export function parsePort(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`"${text}" is not a port (0-65535; 0 picks a free one)`);
  }
  return n;
}

export function parseWholeNumber(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`"${text}" is not a whole number`);
  }
  return n;
}
