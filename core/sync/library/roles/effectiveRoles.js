/*
 * sfsync's roles/effectiveRoles library (the sample's virtual property effectiveRoles requires it), written from
 * IDM's documented behaviour: a user's effective roles are the roles granted to it, as references. IDM also
 * adds conditional roles and drops roles outside their temporal constraints; sfsync keeps no managed roles, so
 * only the references the user itself carries count (none for a user synchronized from Salesforce).
 */
exports.calculateEffectiveRoles = function (object, rolesPropName) {
    var granted = object[rolesPropName] || [];
    return granted.filter(function (grant) {
        return grant !== null && typeof grant === "object" && typeof grant._ref === "string";
    }).map(function (grant) {
        return {"_ref": grant._ref};
    });
};
