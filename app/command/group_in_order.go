package command

// groupInOrder groups items by key, keeping their order within each group, and returns the keys in the order
// they first appear: a batch's commands are applied per pass (or tenant) in the order they were sent.
func groupInOrder[T any](items []T, key func(T) string) ([]string, map[string][]T) {
	var keys []string
	groups := make(map[string][]T)
	for _, item := range items {
		k := key(item)
		if _, seen := groups[k]; !seen {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], item)
	}
	return keys, groups
}
