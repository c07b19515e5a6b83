/** A small typed registry for extension points (balancers, discovery kinds, health checks). */
export class Registry<D extends { readonly kind: string }> {
  private readonly items = new Map<string, D>();

  constructor(readonly what: string) {}

  register(descriptor: D): this {
    if (this.items.has(descriptor.kind)) {
      throw new Error(`${this.what} ${descriptor.kind} registered twice`);
    }
    this.items.set(descriptor.kind, descriptor);
    return this;
  }

  get(kind: string): D | undefined {
    return this.items.get(kind);
  }

  has(kind: string): boolean {
    return this.items.has(kind);
  }

  /** Every descriptor, in registration order (the order of key groups in the config echo). */
  list(): D[] {
    return [...this.items.values()];
  }

  /** Registered names, sorted, for error messages. */
  names(): string[] {
    return [...this.items.keys()].sort();
  }
}
