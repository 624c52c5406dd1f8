/*
 * sfsync's roles/effectiveAssignments.js (the sample's virtual property effectiveAssignments names it), written
 * from IDM's documented behaviour: the assignments of the user's effective roles (effectiveRolesPropName names
 * that property). sfsync keeps no managed roles or assignments: a role that cannot be read is logged and skipped.
 */
(function () {
    var roles = object[effectiveRolesPropName] || [];
    var assignments = [];
    roles.forEach(function (role) {
        var found = null;
        try {
            found = openidm.read(role._ref, null, ["assignments"]);
        } catch (e) {
            logger.warn("effectiveAssignments: cannot read {}: {}", role._ref, e.message);
        }
        ((found && found.assignments) || []).forEach(function (assignment) {
            assignments.push(assignment);
        });
    });
    return assignments;
}());
