package messaging

// WritesInFlight lets the tests bound the messages a burst of calls makes while writes wait.
const WritesInFlight = writesInFlight
