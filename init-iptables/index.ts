// Public surface of init-iptables/: what other folders may import.
export {};
