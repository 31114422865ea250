// Text the API hands back may come from a device (bucket titles are built from crash stacks, reasons from reports)
// and so from an attacker. Printed raw, ESC, other C0/C1 controls and BiDi overrides can rewrite the operator's
// terminal, hide lines or reorder what is read (cf. kubectl CVE-2021-25743, "Trojan Source" CVE-2021-42574).
// Every such character is shown as a visible escape instead; printable text, accents and emoji are untouched.

/** C0 controls and DEL, C1 controls, and the Unicode BiDi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex -- finding control characters is this module's whole job
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, but keeping line feeds: for messages that are several lines on purpose. */
// eslint-disable-next-line no-control-regex -- as above
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escape(char: string): string {
  const code = char.codePointAt(0)!;
  if (char === '\t') return '\\t';
  if (char === '\r') return '\\r';
  if (char === '\n') return '\\n';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line safe to print: every control and BiDi character (line feeds too) as a visible escape. */
export function safeLine(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Lines safe to print: like `safeLine`, but line feeds stay line feeds. */
export function safeLines(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escape);
}
