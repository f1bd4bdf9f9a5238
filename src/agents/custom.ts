// A custom agent's output (profile "custom": any CLI, with command and args set in [agent]). Read like Claude
// Code's when it prints a result object (output_format json or stream-json), else as text: its exit code
// decides, and JSON of its own on "auto" is its text output, not a cut-off result.
import { parseClaudeOutput } from './claude';
import type { ParserContext } from './outcome';
import type { ParseInput, ParsedOutput } from './result';

/** Decides a job's outcome from a custom agent's stdout, stderr tail and exit status. Never throws. */
export function parseCustomOutput(input: ParseInput, ctx: ParserContext): ParsedOutput {
  return parseClaudeOutput({ ...input, resultObjectExpected: false }, ctx);
}
