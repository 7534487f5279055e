using System.Text.Json;
using Automations.Api.Access;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.AuditTrail;

/// <summary>What changed: the kind of object of an audit entry.</summary>
public static class AuditKinds
{
    public const string Secret = "secret", Webhook = "webhook", Integration = "integration", Automation = "automation", TeamAutomation = "team_automation",
        Key = "key", Member = "member", Queue = "queue", Job = "job", JobVersion = "job_version", ConfigApply = "config_apply", AlertSettings = "alert_settings";

    public static readonly string[] All = [Secret, Webhook, Integration, Automation, TeamAutomation, Key, Member, Queue, Job, JobVersion, ConfigApply, AlertSettings];
}

/// <summary>How it changed: the action of an audit entry.</summary>
public static class AuditActions
{
    public const string Create = "create", Update = "update", Delete = "delete", Enable = "enable", Disable = "disable", Revoke = "revoke", Apply = "apply";

    public static readonly string[] All = [Create, Update, Delete, Enable, Disable, Revoke, Apply];
}

/// <summary>
/// The one writer of control.audit (docs/audit.md). Every control-plane write endpoint records its change through it,
/// inside the transaction of the change, so the change and its entry commit together or not at all: a change the trail
/// does not show did not happen. Who is the caller (user and key id, never the key), when is the transaction's time.
/// Before and after are the public views the API answers with; the secret views below are the only ones a secret gets.
/// </summary>
public sealed class Audit(NpgsqlTransaction tx, ApiKeyPrincipal caller)
{
    public static Audit Of(HttpContext http, NpgsqlTransaction tx) => new(tx, http.Caller());

    public static Audit Of(ApiKeyPrincipal caller, NpgsqlTransaction tx) => new(tx, caller);

    /// <summary>Records one change; null <paramref name="before"/> for a creation, null <paramref name="after"/> for a deletion.</summary>
    /// <returns>The entry's id.</returns>
    public async Task<Guid> RecordAsync(string kind, string action, Guid? targetId, string? targetName, string? project, object? before, object? after)
    {
        var id = Guid.CreateVersion7();
        await tx.Connection!.ExecuteAsync(
            """
            insert into control.audit (id, entity_id, actor, actor_id, key_id, kind, action, target_id, target_name, project, before, after)
            values (@id, @EntityId, @UserName, @UserId, @KeyId, @kind, @action, @targetId, @targetName, @project, @before::jsonb, @after::jsonb)
            """,
            new
            {
                id, caller.EntityId, caller.UserName, caller.UserId, caller.KeyId, kind, action, targetId, targetName, project,
                before = Serialize(before), after = Serialize(after),
            }, tx);
        return id;
    }

    private static string? Serialize(object? view) => view is null ? null : JsonSerializer.Serialize(view, view.GetType(), Persistence.Json.Options);

    /// <summary>A secret as the trail shows it: its name, and (after a change) that its value changed. Never the value.</summary>
    public static object SecretView(string name, bool changed) => changed ? new { name, changed = true } : (object)new { name };
}
