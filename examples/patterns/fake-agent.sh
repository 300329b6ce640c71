#!/bin/sh
# A stand-in for an agent CLI, so the example patterns run without a model
# or an API key. It draws a screen the host's adapter for that CLI reads:
#   fake-agent.sh claude    like Claude Code
#   fake-agent.sh codex     like the Codex CLI
#   fake-agent.sh gemini    like the Gemini CLI
#   fake-agent.sh aider     like Aider
# (the host appends the real CLI's flags; they are ignored). Each line typed
# is a task; the answer depends on the task's first word, and ends with a
# "Confidence:" line, which the host reads as the answer's confidence.
style=$1

answer() {
	case "$1" in
	Review*) printf 'APPROVE: the change is small and tested; no security issues found.\nConfidence: 0.8' ;;
	Implement*) printf 'Implemented it as designed, with a test for each case.\nConfidence: 0.9' ;;
	Design*) printf 'Design: a parser and a handler, with tests.\nConfidence: 0.7' ;;
	*) printf 'Done: %s\nConfidence: 0.5' "$1" ;;
	esac
}

# claude and codex draw a reply's first line after a marker and the rest
# indented.
reply() {
	answer "$1" | sed "1s/^/$2 /; 2,\$s/^/  /"
}

rule='────────────────────────────────────────────────────────────'
draw() { # $1: the conversation
	case $style in
	codex) printf '\033[2J\033[H>_ Fake Codex\n\n%s\n› Ask Codex to do anything\n\n  fake-model default · %s\n  ← for agents · ? for shortcuts' "$1" "$PWD" ;;
	gemini) printf '\033[2J\033[HFake Gemini\n\n%s\n>   Type your message or @path/to/file\n' "$1" ;;
	aider) printf '%s\n> ' "$1" ;; # aider scrolls; it doesn't redraw
	*) printf '\033[2J\033[H%s%s\n❯ \0337\n%s\n  ? for shortcuts\0338' "$1" "$rule" "$rule" ;;
	esac
}

draw ''
while IFS= read -r line; do
	# The host pastes a task of several lines (a bracketed paste, ESC[200~
	# to ESC[201~) and presses Enter; it is one task.
	case "$line" in *"[200~"*)
		while case "$line" in *"[201~"*) false ;; *) true ;; esac && IFS= read -r more; do
			line="$line $more"
		done ;;
	esac
	line=$(printf '%s' "$line" | tr -d '\033\r')
	line=${line#\[200~}
	line=${line%\[201~}
	case $style in
	codex)
		printf '\033[2J\033[H› %s\n\n• Working (0s • esc to interrupt)\n' "$line"
		sleep 0.3
		draw "› $line

$(reply "$line" •)

" ;;
	gemini)
		printf '\033[2J\033[H> %s\n\n⠋ Thinking (esc to cancel, 0s)\n' "$line"
		sleep 0.3
		draw "> $line

$(reply "$line" ✦)
" ;;
	aider)
		# The terminal has echoed the task after the prompt.
		printf 'Waiting for fake-model'
		sleep 0.3
		printf '\r\033[K'
		draw "$(answer "$line")

Tokens: 1 sent, 1 received." ;;
	*)
		printf '\033[2J\033[H> %s\n\n✻ Thinking… (esc to interrupt)\n' "$line"
		sleep 0.3
		draw "> $line

$(reply "$line" ●)

" ;;
	esac
done
