export const TRANSCRIPT_FORMATS = ['text', 'markdown', 'html'] as const;
