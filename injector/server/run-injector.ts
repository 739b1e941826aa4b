export async function runInjectorCommand(_o: unknown): Promise<void> {}
