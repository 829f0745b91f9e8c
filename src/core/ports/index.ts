/** Every port (interface) in one place; adapters implement them, only main.ts wires the real ones. */
export type * from "./pipeline.js";
export type * from "./stream.js";
export type * from "./cache.js";
export type * from "./quota.js";
export type * from "./model.js";
export type * from "./ti.js";
export type * from "./flight.js";
