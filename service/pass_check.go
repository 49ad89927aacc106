package service

import (
	"github.com/passpush/passpush/adapters/activities"
	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
)

// newCheckPassHandler builds the "Wallet pass?" split's execute: the passes read model's match with the Apple
// registrations, the Google install states, the install links, and a grouped writer of its decisions.
func newCheckPassHandler(a *adapters) (command.CheckPassHandler, error) {
	installs, err := apple.NewInstalls(a.appleChannel)
	if err != nil {
		return command.CheckPassHandler{}, err
	}
	decisions, err := activities.NewPassCheckLog(a.events)
	if err != nil {
		return command.CheckPassHandler{}, err
	}
	return command.NewCheckPassHandler(a.readModel, installs, a.googleChannel,
		command.NewMakeInstallLinkHandler(a.readModel, a.apple.linkKeys), query.NewGoogleSaveLinkHandler(a.google.saveLinks),
		decisions, a.passCheck)
}
