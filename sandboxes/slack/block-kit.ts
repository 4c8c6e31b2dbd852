/**
 * What Slack would reject as `invalid_blocks`: more than 50 blocks, header
 * text over 150, section text over 3000, more than 10 fields or one over
 * 2000, button text over 75, a URL over 3000, an empty text.
 */
export function blockKitProblems(blocks: Record<string, unknown>[]): string[] {
  const problems: string[] = [];
  if (blocks.length > 50) problems.push(`no more than 50 items allowed [json-pointer:/blocks]`);
  const text = (value: unknown, max: number, where: string) => {
    const content = (value as { text?: unknown } | undefined)?.text;
    if (typeof content !== 'string' || content.length === 0)
      problems.push(`must be more than 0 characters [json-pointer:${where}/text]`);
    else if (content.length > max)
      problems.push(`must be less than ${max + 1} characters [json-pointer:${where}/text]`);
  };
  for (const [i, block] of blocks.entries()) {
    const at = `/blocks/${i}`;
    if (typeof block.type !== 'string') problems.push(`missing required field: type [json-pointer:${at}]`);
    if (block.type === 'header') text(block.text, 150, `${at}/text`);
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined)
        problems.push(`must provide either text or fields [json-pointer:${at}]`);
      if (block.text !== undefined) text(block.text, 3000, `${at}/text`);
      if (Array.isArray(block.fields)) {
        if (block.fields.length > 10)
          problems.push(`no more than 10 items allowed [json-pointer:${at}/fields]`);
        for (const [j, field] of block.fields.entries()) text(field, 2000, `${at}/fields/${j}`);
      }
    }
    if (block.type === 'actions' && Array.isArray(block.elements)) {
      if (block.elements.length > 25)
        problems.push(`no more than 25 items allowed [json-pointer:${at}/elements]`);
      (block.elements as Record<string, unknown>[]).forEach((element, j) => {
        if (element.type !== 'button') return;
        text(element.text, 75, `${at}/elements/${j}/text`);
        if (typeof element.url === 'string' && element.url.length > 3000)
          problems.push(`must be less than 3001 characters [json-pointer:${at}/elements/${j}/url]`);
      });
    }
  }
  return problems;
}
