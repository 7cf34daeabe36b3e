package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/subjects"
)

// provisionStepTimeout bounds each create-or-update request of Provision.
var provisionStepTimeout = 30 * time.Second

// Provisioned is one resource Provision created or updated.
type Provisioned struct {
	// Kind is "stream", "key-value bucket", "object bucket" or "consumer".
	Kind string
	// Name is the resource's name on the server.
	Name string
}

// ProvisionOption changes what Provision does.
type ProvisionOption func(*provisionOptions)

type provisionOptions struct {
	keepQuotas bool
}

// KeepQuotas makes Provision leave the quota of a host bucket that exists
// as it is: o.HostQuota is then only the quota of a new host. Adding a host
// must not reset a quota the admin grew for another.
func KeepQuotas() ProvisionOption {
	return func(p *provisionOptions) { p.keepQuotas = true }
}

// Provision creates or updates, over nc, every resource of a hub serving
// hosts: the resources of EnsureResources, then the object bucket of each
// host with o.HostQuota as its MaxBytes. It is idempotent: on a provisioned
// hub it changes nothing, and with changed options it updates in place
// what the server can update. nc's user must be the admin: a request the
// server refuses fails at once with an error wrapping natsconn.ErrDenied
// and naming the subject, instead of waiting out its deadline. An invalid
// or reserved host id is an error wrapping subjects.ErrBadHost, returned
// before anything is sent. done is called after each resource.
func Provision(ctx context.Context, nc *nats.Conn, hosts []string, o ResourceOptions, done func(Provisioned), opts ...ProvisionOption) error {
	var po provisionOptions
	for _, opt := range opts {
		opt(&po)
	}
	hosts, err := sortedHosts(hosts)
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if done == nil {
		done = func(Provisioned) {}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("provision: open jetstream: %w", err)
	}
	denials := natsconn.WatchDenials(nc)
	step := func(p Provisioned, f func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, provisionStepTimeout)
		defer cancel()
		gctx, stop := denials.Guard(sctx)
		defer stop()
		if err := natsconn.Err(gctx, f(gctx)); err != nil {
			return fmt.Errorf("provision %s %s: %w", p.Kind, p.Name, err)
		}
		done(p)
		return nil
	}
	for _, cfg := range []jetstream.StreamConfig{SubmissionsConfig(o), QuarantineConfig(o), AcceptedConfig(o)} {
		err := step(Provisioned{"stream", cfg.Name}, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return err
		}
	}
	for _, cfg := range []jetstream.KeyValueConfig{VerdictsConfig(o), WindowConfig(o)} {
		err := step(Provisioned{"key-value bucket", cfg.Bucket}, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		if err != nil {
			return err
		}
	}
	cc := ReceiverConsumerConfig(o)
	err = step(Provisioned{"consumer", subjects.SubmissionsStream + " > " + cc.Durable}, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateConsumer(ctx, subjects.SubmissionsStream, cc)
		return err
	})
	if err != nil {
		return err
	}
	for _, h := range hosts {
		err := step(Provisioned{"object bucket", subjects.EpisodeBucket(h)}, func(ctx context.Context) error {
			ho := o
			if po.keepQuotas {
				st, err := js.Stream(ctx, subjects.ObjectStream(subjects.EpisodeBucket(h)))
				switch {
				case err == nil:
					ho.HostQuota = st.CachedInfo().Config.MaxBytes
				case !errors.Is(err, jetstream.ErrStreamNotFound):
					return err
				}
			}
			_, err := EnsureHostBucket(ctx, js, h, ho)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
