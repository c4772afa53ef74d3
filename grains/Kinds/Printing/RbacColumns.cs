using Orchestrator.Model;

namespace Orchestrator.Grains.Kinds.Printing;

/// <summary>The role and binding tables of Kubernetes' printers.</summary>
public static class RbacColumns
{
    public static IReadOnlyList<PrinterColumn<Role>> Role { get; } = [PrinterColumns.Name<Role>(), CreatedAt<Role>()];

    public static IReadOnlyList<PrinterColumn<ClusterRole>> ClusterRole { get; } = [PrinterColumns.Name<ClusterRole>(), CreatedAt<ClusterRole>()];

    public static IReadOnlyList<PrinterColumn<RoleBinding>> RoleBinding { get; } = Binding<RoleBinding>(b => b.RoleRef, b => b.Subjects);

    public static IReadOnlyList<PrinterColumn<ClusterRoleBinding>> ClusterRoleBinding { get; } = Binding<ClusterRoleBinding>(b => b.RoleRef, b => b.Subjects);

    /// <summary>Roles print their creation time itself rather than an age (Kubernetes' printRole).</summary>
    private static PrinterColumn<T> CreatedAt<T>() where T : IResource =>
        new("Created At", "date", PrinterColumns.AgeDescription, (r, _) => r.Metadata.CreationTimestamp?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) ?? "");

    private static PrinterColumn<T>[] Binding<T>(Func<T, RoleRef> roleRef, Func<T, IReadOnlyList<Subject>?> subjects) where T : IResource =>
    [
        PrinterColumns.Name<T>(),
        new("Role", "string", "Role of the binding", (b, _) => $"{roleRef(b).Kind}/{roleRef(b).Name}"),
        PrinterColumns.Age<T>(),
        new PrinterColumn<T>("Users", "string", "Users in the binding", (b, _) => Names(subjects(b), Rbac.UserKind)).Wide(),
        new PrinterColumn<T>("Groups", "string", "Groups in the binding", (b, _) => Names(subjects(b), Rbac.GroupKind)).Wide(),
        new PrinterColumn<T>("ServiceAccounts", "string", "ServiceAccounts in the binding", (b, _) => Names(subjects(b), Rbac.ServiceAccountKind)).Wide(),
    ];

    /// <summary>Kubernetes' SubjectsStrings: names of one kind of subject, "namespace:name" for
    /// service accounts, joined by ", ".</summary>
    private static string Names(IReadOnlyList<Subject>? subjects, string kind) =>
        string.Join(", ", (subjects ?? []).Where(s => s.Kind == kind).Select(s => kind == Rbac.ServiceAccountKind ? $"{s.Namespace}:{s.Name}" : s.Name));
}
