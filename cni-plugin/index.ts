// Public surface of cni-plugin/: what other folders may import.
export {};
