/// Every way a login can go through an auth stack, given what each module may return, walked as
/// libpam's _pam_dispatch_aux (pam_dispatch.c) walks it: the stack's impression and status,
/// `done` and `die` ending the current (sub)stack, jumps counting a substack as one module,
/// `reset` going back to the state at the start of the substack.
package struct PAMStackWalk {
    /// What one walk did.
    package struct Path: Sendable {
        package var succeeded = false
        /// Whether a pam_totpd line ran (and gave one of the results it was given).
        package var ranCode = false
        /// The line whose `done` or jump passed over pam_totpd before it ran.
        package var skippedCodeAt: PAMStack.Line?
        package var skippedByJump = false
        /// The pam_totpd line last run, so a success after it is laid at its door.
        package var lastCodeLine: PAMStack.Line?
        /// Each pam_totpd line reached, with the lines that ran before it.
        package var reached: [(code: PAMStack.Line, before: [PAMStack.Line])] {
            reachedAt.map { position in (entries[Int(ran[position])].line, ran[..<position].map { entries[Int($0)].line }) }
        }
        /// The entries run, by index: a path is copied at every branch, and a hundred thousand
        /// of them must stay small.
        fileprivate var ran: [Int32] = []
        /// Where in `ran` each pam_totpd line stands.
        fileprivate var reachedAt: [Int] = []
        fileprivate let entries: [PAMStack.Entry]
    }

    /// The work a doctor run may spend on walks, shared by every stack: each stack's walks are
    /// bounded, but a tree may hold thousands of services.
    package final class Budget {
        /// Steps, each costing one plus the lines the walk ran before it (what copying it costs).
        package static let steps = 20_000_000
        fileprivate var left = Budget.steps

        package init() {}
    }

    package struct BudgetSpent: Error {}

    private enum Impression { case undefined, positive, negative }

    private struct State {
        var index = 0
        var previousLevel = 0
        var impression = Impression.undefined
        var succeeded = false
        var saved: [Int: (Impression, Bool)] = [:]
        var path: Path
    }

    /// Stacks are a few dozen lines, but each module with two outcomes doubles the walks.
    package static let maxPaths = 100_000

    private let entries: [PAMStack.Entry]
    private let results: (PAMStack.Line) -> [PAMControl.Result]

    /// `results`: what each module may return on the walks wanted.
    package init(_ stack: PAMStack, results: @escaping (PAMStack.Line) -> [PAMControl.Result]) {
        entries = stack.entries
        self.results = results
    }

    /// nil when this stack has too many walks to follow; throws when the run's budget is spent.
    package func paths(within budget: Budget) throws(BudgetSpent) -> [Path]? {
        var finished: [Path] = []
        var pending = [State(path: Path(entries: entries))]
        while let state = pending.popLast() {
            guard finished.count + pending.count < Self.maxPaths else { return nil }
            budget.left -= 1 + state.path.ran.count
            guard budget.left > 0 else { throw BudgetSpent() }
            if state.index >= entries.count {
                var path = state.path
                path.succeeded = state.succeeded && state.impression == .positive
                finished.append(path)
            } else {
                pending += step(state)
            }
        }
        return finished
    }

    /// The states after the module at `state.index` runs, one for each result it may give.
    private func step(_ state: State) -> [State] {
        var state = state
        let entry = entries[state.index]
        let level = entry.level
        if state.previousLevel < level { state.saved[level] = (state.impression, state.succeeded) }
        state.previousLevel = level
        guard !entry.isSubstack else {
            state.index += 1
            return [state]
        }
        if entry.line.isCodeModule {
            state.path.ranCode = true
            state.path.lastCodeLine = entry.line
            state.path.reachedAt.append(state.path.ran.count)
        }
        state.path.ran.append(Int32(state.index))
        return results(entry.line).map { result in
            var next = state
            let success = result == .success
            switch entry.line.control.action(for: result) {
            case .reset:
                (next.impression, next.succeeded) = next.saved[level] ?? (.undefined, false)
                next.index += 1
            case let action where action == .ok || action == .done:
                if next.impression == .undefined || (next.impression == .positive && next.succeeded), result != .ignore {
                    next.impression = .positive
                    next.succeeded = success
                }
                if next.impression == .positive && action == .done {
                    endLevel(&next, by: entry.line)
                } else {
                    next.index += 1
                }
            case let action where action == .bad || action == .die:
                if next.impression != .negative {
                    next.impression = .negative
                    next.succeeded = false
                }
                if action == .die { endLevel(&next, by: entry.line) } else { next.index += 1 }
            case .jump(let count):
                jump(&next, over: count, by: entry.line)
            default:
                next.index += 1
            }
            return next
        }
    }

    /// `done` or `die`: the rest of this (sub)stack is passed over.
    private func endLevel(_ state: inout State, by line: PAMStack.Line) {
        let level = entries[state.index].level
        var last = state.index
        while last + 1 < entries.count && entries[last + 1].level >= level { last += 1 }
        pass(&state, to: last, by: line, jumping: false)
    }

    private func jump(_ state: inout State, over count: Int, by line: PAMStack.Line) {
        let level = entries[state.index].level
        var last = state.index
        var left = count
        while last + 1 < entries.count && entries[last + 1].level >= level && left > 0 {
            repeat { last += 1 } while last + 1 < entries.count && entries[last + 1].level > level
            left -= 1
        }
        // A jump past the end is a configuration error that libpam turns into a failure.
        if left > 0 {
            state.impression = .negative
            state.succeeded = false
        }
        pass(&state, to: last, by: line, jumping: true)
    }

    /// The previous level stays the passing line's, as in libpam, where it is the level of the
    /// module the loop started the round with.
    private func pass(_ state: inout State, to last: Int, by line: PAMStack.Line, jumping: Bool) {
        let passed = entries[(state.index + 1)..<(last + 1)]
        if !state.path.ranCode && state.path.skippedCodeAt == nil && passed.contains(where: { !$0.isSubstack && $0.line.isCodeModule }) {
            state.path.skippedCodeAt = line
            state.path.skippedByJump = jumping
        }
        state.index = last + 1
    }
}
