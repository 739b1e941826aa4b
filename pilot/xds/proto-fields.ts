// Reads protobuf wire format field by field, for the few messages decoded by hand (ADS requests
// on the server, responses in the test ADS client) where protobufjs is the cost.

/**
 * A bounds-checked cursor over one protobuf message's fields: no generators, closures or copies
 * per field, since the server reads thousands of requests and test clients thousands of responses.
 */
export class ProtoFields {
  pos: number;
  field = 0;
  wire = 0;
  /** Value range of the current length-delimited field. */
  start = 0;
  stop = 0;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  private varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++] as number;
      n += (b & 0x7f) * mul;
      if (!(b & 0x80)) return n;
      mul *= 128;
    }
    throw new Error("varint too long");
  }

  /** Moves to the next field; false at the end. Throws on malformed input. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    if (this.field === 0) throw new Error("invalid field number 0");
    switch (this.wire) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint();
        this.start = this.pos;
        this.stop = this.pos + len;
        this.pos = this.stop;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${this.wire} (field ${this.field})`);
    }
    if (this.pos > this.end) throw new Error(`field ${this.field} runs past the end of the message`);
    return true;
  }

  /** The current field as a string; a known string field with another wire type is an error. */
  text(): string {
    this.expectBytes();
    return this.buf.toString("utf8", this.start, this.stop);
  }

  bytes(): Buffer {
    this.expectBytes();
    return this.buf.subarray(this.start, this.stop);
  }

  expectBytes(): void {
    if (this.wire !== 2) throw new Error(`field ${this.field} has wire type ${this.wire}, expected 2`);
  }
}
