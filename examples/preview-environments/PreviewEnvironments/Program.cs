using PreviewEnvironments;

PreviewApp.Build(args).Run();
