package delivery

// WithDefaults returns c with its zero fields set to the defaults.
func WithDefaults(c Config) Config {
	c.setDefaults()
	return c
}
