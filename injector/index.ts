// Public surface of injector/: what other folders may import.
export {};
