/*
 * sfsync's onCreateUser library (what conf/managed.json's onCreate hook requires), written from IDM's
 * documented behaviour. A project's own script/onCreateUser.js is found first and replaces this one.
 */
exports.setDefaultFields = function (object) {
    // a new user is active unless the object says otherwise
    if (!object.accountStatus) {
        object.accountStatus = "active";
    }
    // IDM also gives a new user the internal role openidm-authorized through the authzRoles relationship;
    // sfsync has no internal roles and no relationships, so authzRoles is left as given.
};

exports.emailUser = function (object) {
    // IDM e-mails a welcome message only when its outbound e-mail service is configured and the "welcome"
    // e-mail template is enabled. sfsync has no e-mail service, which is IDM's unconfigured case: nothing is
    // sent and nothing is logged (a reconciliation creates thousands of users).
};
