// The shape of the field trees in istio-fields.ts (kept apart so the generated file and the
// checker share it without importing the generator, which needs the TypeScript compiler).

/**
 * `{}` is a leaf; "map" is a free-form map (labels); `{"*": tree}` is a map whose values have
 * `tree`'s fields (headers → StringMatch); otherwise nested fields.
 */
export type FieldTree = { [field: string]: FieldTree | "map" };
