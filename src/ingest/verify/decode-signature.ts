const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A signature's bytes, or undefined when the text is not exactly hex or
 * base64. Node's decoder stops at the first character it does not know and
 * ignores the rest, so "valid signature + anything" would otherwise pass.
 */
export function decodeSignature(text: string, encoding: 'hex' | 'base64'): Buffer | undefined {
  if (text === '' || !(encoding === 'hex' ? HEX : BASE64).test(text)) return undefined;
  return Buffer.from(text, encoding);
}
