// Error classes of the ng control layer, each with a stable code.
//
// An NgError carries the exact `error-reason` string the reference daemon sends,
// so that proxy scripts which match on the wording keep working. The wordings
// the control layer itself produces are collected in NG_REASONS; command
// handlers may throw NgError with their own reference wording.

/** Reply wordings of the reference daemon for problems found by the control layer. */
export const NG_REASONS = {
  noPayload: 'Invalid data (no payload)',
  badFormat: 'Invalid NG data format',
  badBencode: 'Could not decode bencode dictionary',
  badJson: 'Failed to parse JSON document',
  noCommand: 'Dictionary contains no key "command"',
  unknownCommand: 'Unrecognized command',
  invalidLimit: 'invalid limit, must be >= 0',
  internal: 'Internal error',
} as const;

/** A request the daemon answers with `result: error`; `ngReason` is the reply's `error-reason`. */
export class NgError extends Error {
  readonly code: string;
  readonly ngReason: string;

  constructor(ngReason: string, code = 'ERR_NG_REQUEST') {
    super(ngReason);
    this.name = 'NgError';
    this.code = code;
    this.ngReason = ngReason;
  }
}

/** Stable codes of BencodeError. `ERR_BENCODE_TRUNCATED` means more bytes could complete the value. */
export type BencodeErrorCode =
  | 'ERR_BENCODE_TRUNCATED'
  | 'ERR_BENCODE_SYNTAX'
  | 'ERR_BENCODE_DEPTH'
  | 'ERR_BENCODE_TRAILING'
  | 'ERR_BENCODE_TYPE';

/** Malformed bencode input (or a value that cannot be encoded), with the byte offset of the problem. */
export class BencodeError extends Error {
  readonly code: BencodeErrorCode;
  readonly offset: number;
  readonly reason: string;

  constructor(code: BencodeErrorCode, offset: number, reason: string) {
    super(`${reason} at offset ${offset}`);
    this.name = 'BencodeError';
    this.code = code;
    this.offset = offset;
    this.reason = reason;
  }

  /** True when the input ended in the middle of a value, i.e. a stream may still complete it. */
  get truncated(): boolean {
    return this.code === 'ERR_BENCODE_TRUNCATED';
  }
}
