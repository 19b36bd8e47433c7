package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand; name may hold several words ("data info").
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("ntkharness: command registered twice: " + name)
	}
	commands[name] = command{name, summary, run}
}

// usageError marks errors in the command line itself (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exitCoder is an error that chooses its own exit status (sweep run uses 3
// for cells that failed permanently, so a cluster does not retry them).
type exitCoder interface {
	error
	ExitCode() int
}

// exitError gives err the exit status code.
type exitError struct {
	error
	code int
}

func (e exitError) ExitCode() int { return e.code }
func (e exitError) Unwrap() error { return e.error }

// errHelp is returned after --help was printed (exit status 0).
var errHelp = errors.New("help printed")

// flagSet is a command's flags with the text its --help prints.
type flagSet struct {
	*flag.FlagSet
	synopsis, description string
}

// newFlags returns a flag set for the named command whose --help prints the
// synopsis, the description and every flag.
func newFlags(name, synopsis, description string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs, synopsis, description}
}

// printHelp writes the command's help to w.
func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: ntkharness %s %s\n\n%s\n\nFlags:\n", fs.Name(), fs.synopsis, strings.TrimSpace(fs.description))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseFlags parses args into fs; flag errors become usage errors and
// positional arguments are refused unless allowArgs.
func parseFlags(fs *flagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp(os.Stdout)
			return errHelp
		}
		return usageError{fmt.Sprintf("%s: %v (see ntkharness %s --help)", fs.Name(), err, fs.Name())}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see ntkharness %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

// given returns the flags set on the command line, so that a value given as
// 0 (an error where 0 is not allowed) is told from one not given (the
// default).
func (fs *flagSet) given() map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// lookup finds the command named by the longest prefix of args.
func lookup(args []string) (command, []string, bool) {
	for n := len(args); n >= 1; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:], true
		}
	}
	return command{}, nil, false
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ntkharness COMMAND [flags]   (ntkharness COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes one command line and returns the exit status.
func run(args []string) (status int) {
	if os.Getenv("NTKHARNESS_DEBUG") == "" {
		defer func() {
			if p := recover(); p != nil {
				fmt.Fprintf(os.Stderr, "ntkharness: internal error: %v (rerun with NTKHARNESS_DEBUG=1 for a stack trace)\n", p)
				status = 1
			}
		}()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(os.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(os.Stderr, "ntkharness: unknown command %q (see ntkharness --help)\n", strings.Join(args, " "))
		return 2
	}
	err := c.run(rest)
	var ue usageError
	var coded exitCoder
	switch {
	case err == nil || errors.Is(err, errHelp):
		return 0
	case errors.As(err, &coded):
		fmt.Fprintln(os.Stderr, "ntkharness: "+c.name+": "+oneLine(err.Error()))
		return coded.ExitCode()
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "ntkharness: "+oneLine(err.Error()))
		return 2
	default:
		fmt.Fprintln(os.Stderr, "ntkharness: "+c.name+": "+oneLine(err.Error()))
		return 1
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
