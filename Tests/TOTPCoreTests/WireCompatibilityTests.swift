import Testing
import pam_totpd

@testable import TOTPCore

/// The PAM module's totpd_wire.h and the daemon's WireConstants.swift must agree on every number.
@Suite struct WireCompatibilityTests {
    @Test func limitsAndVersionAgree() {
        #expect(Int(TOTPD_PROTOCOL_VERSION) == Int(WireProtocol.version))
        #expect(Int(TOTPD_MAX_REQUEST_BODY) == WireProtocol.maxRequestBody)
        #expect(Int(TOTPD_MAX_RESPONSE_BODY) == WireProtocol.maxResponseBody)
        #expect(Int(TOTPD_CODE_MIN_DIGITS) == OTPParameters.digitRange.lowerBound)
        #expect(Int(TOTPD_CODE_MAX_DIGITS) == OTPParameters.digitRange.upperBound)
        #expect(Int(TOTPD_RECOVERY_CODE_COUNT) == RecoveryCode.count)
    }

    @Test func operationsAgree() {
        let c: [Operation: Int] = [
            .verify: Int(TOTPD_OP_VERIFY), .enrollBegin: Int(TOTPD_OP_ENROLL_BEGIN),
            .enrollConfirm: Int(TOTPD_OP_ENROLL_CONFIRM), .status: Int(TOTPD_OP_STATUS), .list: Int(TOTPD_OP_LIST),
            .revoke: Int(TOTPD_OP_REVOKE), .unlock: Int(TOTPD_OP_UNLOCK), .auditLog: Int(TOTPD_OP_AUDIT_LOG),
            .regenerateRecoveryCodes: Int(TOTPD_OP_RECOVERY_REGENERATE), .resync: Int(TOTPD_OP_RESYNC),
            .precheck: Int(TOTPD_OP_PRECHECK), .loginEnroll: Int(TOTPD_OP_LOGIN_ENROLL), .reset: Int(TOTPD_OP_RESET),
            .rotateKey: Int(TOTPD_OP_ROTATE_KEY), .metrics: Int(TOTPD_OP_METRICS),
        ]
        #expect(c.count == Operation.allCases.count)
        for operation in Operation.allCases { #expect(c[operation] == Int(operation.rawValue), "\(operation)") }
    }

    @Test func resultsAgree() {
        let c: [ResultCode: Int] = [
            .ok: Int(TOTPD_RESULT_OK), .rejected: Int(TOTPD_RESULT_REJECTED),
            .notEnrolled: Int(TOTPD_RESULT_NOT_ENROLLED), .locked: Int(TOTPD_RESULT_LOCKED),
            .denied: Int(TOTPD_RESULT_DENIED), .badRequest: Int(TOTPD_RESULT_BAD_REQUEST),
            .unsupportedVersion: Int(TOTPD_RESULT_UNSUPPORTED_VERSION), .unknownUser: Int(TOTPD_RESULT_UNKNOWN_USER),
            .internalError: Int(TOTPD_RESULT_INTERNAL_ERROR), .exempt: Int(TOTPD_RESULT_EXEMPT),
            .grace: Int(TOTPD_RESULT_GRACE),
        ]
        #expect(c.count == ResultCode.allCases.count)
        for result in ResultCode.allCases { #expect(c[result] == Int(result.rawValue), "\(result)") }
    }

    @Test func tagsAndLengthsAgree() {
        // (tag, C tag number, C maximum length); typed per row so the compiler checks it quickly.
        var c: [(FieldTag, Int, Int)] = []
        c.append((.user, Int(TOTPD_TAG_USER), Int(TOTPD_MAXLEN_USER)))
        c.append((.code, Int(TOTPD_TAG_CODE), Int(TOTPD_MAXLEN_CODE)))
        c.append((.service, Int(TOTPD_TAG_SERVICE), Int(TOTPD_MAXLEN_SERVICE)))
        c.append((.rhost, Int(TOTPD_TAG_RHOST), Int(TOTPD_MAXLEN_RHOST)))
        c.append((.tty, Int(TOTPD_TAG_TTY), Int(TOTPD_MAXLEN_TTY)))
        c.append((.message, Int(TOTPD_TAG_MESSAGE), Int(TOTPD_MAXLEN_MESSAGE)))
        c.append((.secret, Int(TOTPD_TAG_SECRET), Int(TOTPD_MAXLEN_SECRET)))
        c.append((.uri, Int(TOTPD_TAG_URI), Int(TOTPD_MAXLEN_URI)))
        c.append((.expiresAt, Int(TOTPD_TAG_EXPIRES_AT), Int(TOTPD_MAXLEN_EXPIRES_AT)))
        c.append((.state, Int(TOTPD_TAG_STATE), Int(TOTPD_MAXLEN_STATE)))
        c.append((.retryAfter, Int(TOTPD_TAG_RETRY_AFTER), Int(TOTPD_MAXLEN_RETRY_AFTER)))
        c.append((.failures, Int(TOTPD_TAG_FAILURES), Int(TOTPD_MAXLEN_FAILURES)))
        c.append((.activatedAt, Int(TOTPD_TAG_ACTIVATED_AT), Int(TOTPD_MAXLEN_ACTIVATED_AT)))
        c.append((.lastSuccessAt, Int(TOTPD_TAG_LAST_SUCCESS_AT), Int(TOTPD_MAXLEN_LAST_SUCCESS_AT)))
        c.append((.record, Int(TOTPD_TAG_RECORD), Int(TOTPD_MAXLEN_RECORD)))
        c.append((.recoveryCode, Int(TOTPD_TAG_RECOVERY_CODE), Int(TOTPD_MAXLEN_RECOVERY_CODE)))
        c.append((.nextCode, Int(TOTPD_TAG_NEXT_CODE), Int(TOTPD_MAXLEN_NEXT_CODE)))
        c.append((.lockedUntil, Int(TOTPD_TAG_LOCKED_UNTIL), Int(TOTPD_MAXLEN_LOCKED_UNTIL)))
        c.append((.recoveryCodesLeft, Int(TOTPD_TAG_RECOVERY_CODES_LEFT), Int(TOTPD_MAXLEN_RECOVERY_CODES_LEFT)))
        c.append((.since, Int(TOTPD_TAG_SINCE), Int(TOTPD_MAXLEN_SINCE)))
        c.append((.afterID, Int(TOTPD_TAG_AFTER_ID), Int(TOTPD_MAXLEN_AFTER_ID)))
        c.append((.id, Int(TOTPD_TAG_ID), Int(TOTPD_MAXLEN_ID)))
        c.append((.time, Int(TOTPD_TAG_TIME), Int(TOTPD_MAXLEN_TIME)))
        c.append((.event, Int(TOTPD_TAG_EVENT), Int(TOTPD_MAXLEN_EVENT)))
        c.append((.result, Int(TOTPD_TAG_RESULT), Int(TOTPD_MAXLEN_RESULT)))
        c.append((.callerUID, Int(TOTPD_TAG_CALLER_UID), Int(TOTPD_MAXLEN_CALLER_UID)))
        c.append((.callerPID, Int(TOTPD_TAG_CALLER_PID), Int(TOTPD_MAXLEN_CALLER_PID)))
        c.append((.qr, Int(TOTPD_TAG_QR), Int(TOTPD_MAXLEN_QR)))
        c.append((.count, Int(TOTPD_TAG_COUNT), Int(TOTPD_MAXLEN_COUNT)))
        c.append((.afterUser, Int(TOTPD_TAG_AFTER_USER), Int(TOTPD_MAXLEN_AFTER_USER)))
        c.append((.keyID, Int(TOTPD_TAG_KEY_ID), Int(TOTPD_MAXLEN_KEY_ID)))
        c.append((.metrics, Int(TOTPD_TAG_METRICS), Int(TOTPD_MAXLEN_METRICS)))
        #expect(Set(c.map(\.0)) == Set(FieldTag.allCases))
        for (tag, number, maxLength) in c {
            #expect(number == Int(tag.rawValue), "\(tag)")
            #expect(maxLength == tag.maxLength, "\(tag)")
        }
    }
}
