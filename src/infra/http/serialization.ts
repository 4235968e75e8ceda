// Answers written with JSON.stringify as they are, for routes whose answers are built to their response schemas
// (their tests check every kind of answer against those schemas): zod's re-check on the way out is skipped, which
// cost more than the route's own work (summaries) or as much as signing a receipt (reports). The schemas still
// document the answers in the OpenAPI document.
export const serializeAsBuilt = () => (data: unknown) => JSON.stringify(data);
