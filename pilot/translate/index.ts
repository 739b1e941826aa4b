// Public surface of pilot/translate: the pure snapshot → Envoy resources function.

export { hostOfCluster } from "./names.ts";
export { type TranslateResult, translate, translateEndpoints } from "./translate.ts";
export { translationKey } from "./translation-key.ts";
