// Small pieces of SQL text shared by repositories.

/** A LIKE/ILIKE pattern matching `text` literally (its backslash, % and _ escaped) inside any string. */
export const containing = (text: string): string => `%${escapeLike(text)}%`;

/** `text` with LIKE's wildcards (% and _) and its escape character (backslash) escaped, to match literally. */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
